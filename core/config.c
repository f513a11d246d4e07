/*
 * config.c - tally.conf, typed
 *
 * Owns the meaning of every configuration key, its default and its range
 * (docs/configuration.md is the reader's version of this file).  Loading
 * is all-or-nothing: any unknown key, out-of-range value, unreadable
 * secret or unparsable key file fails the whole load with a message
 * naming the file, section and key, and leaves no resource allocated.
 *
 * Secrets written env:NAME come from the environment or, when [tally]
 * env_file (or the caller, tallyctl --env-file) names one, from that file
 * of KEY=value lines -- the unit's EnvironmentFile, so that tallyctl in
 * an operator's shell reads what the unit gives tallyd.  As with systemd,
 * a variable set in the file wins over the environment.  A missing
 * secret is reported with its variable's name and where it was looked
 * for.
 *
 * API:	tly_config_defaults(), tly_config_load(), tly_config_load_env(),
 *	tly_env_file_load(), tly_config_free(), tly_config_issuer(),
 *	tly_currency_exponent(), tly_pool_name().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "config.h"
#include "tly_err.h"
#include "tly_ini.h"
#include "tly_log.h"
#include "tly_str.h"

#ifndef TALLY_SCHEMA_DIR
#define TALLY_SCHEMA_DIR "/usr/local/share/tally/schema"
#endif

static const char *pool_names[TLY_NPOOLS] = { "api", "webhook", "admin" };

/* tly_pool_name - "api", "webhook" or "admin" */
const char *
tly_pool_name(int i)
{
	return i >= 0 && i < TLY_NPOOLS ? pool_names[i] : "?";
}

static void currency_defaults(tly_currency *, const char *);

/* tly_config_defaults - every key at its documented default */
void
tly_config_defaults(tly_config *c)
{
	int i;

	memset(c, 0, sizeof(*c));
	c->log_level = TLY_LOG_INFO;
	tly_strlcpy(c->schema_dir, TALLY_SCHEMA_DIR, sizeof(c->schema_dir));
	c->max_body_bytes = 1 << 20;
	c->request_timeout_s = 60;
	c->shutdown_timeout_s = 30;
	tly_strlcpy(c->db_host, "localhost", sizeof(c->db_host));
	c->db_port = 3306;
	tly_strlcpy(c->db_user, "tally", sizeof(c->db_user));
	tly_strlcpy(c->db_user_host, "localhost", sizeof(c->db_user_host));
	tly_strlcpy(c->db_name, "tally", sizeof(c->db_name));
	c->db_connect_timeout_s = 2;
	c->db_rw_timeout_s = 30;
	c->tx_max_attempts = 8;
	for (i = 0; i < TLY_NPOOLS; i++) {
		tly_strlcpy(c->pools[i].name, pool_names[i],
		    sizeof(c->pools[i].name));
		snprintf(c->pools[i].socket, sizeof(c->pools[i].socket),
		    "/run/tally/%s.sock", pool_names[i]);
		c->pools[i].workers = i == TLY_POOL_API ? 8 : 2;
		c->pools[i].max_requests = 10000;
		c->pools[i].socket_mode = 0660;
		c->pools[i].listen_backlog = 1024;
	}
	c->session_ttl_s = 12 * 3600;
	c->session_idle_s = 30 * 60;
	c->cookie_secure = 1;
	c->login_max_failures = 5;
	c->login_window_s = 300;
	c->login_max_delay_s = 60;
	c->kdf_log2_n = 17;
	c->rate_buyer = (tly_rate_conf){ 20, 40 };
	c->rate_server = (tly_rate_conf){ 500, 1000 };
	c->rate_admin = (tly_rate_conf){ 50, 100 };
	tly_strlcpy(c->stripe_api_base, "https://api.stripe.com",
	    sizeof(c->stripe_api_base));
	c->stripe_connect_timeout_ms = 3000;
	c->stripe_timeout_ms = 20000;
	c->stripe_max_retries = 3;
	c->stripe_retry_base_ms = 250;
	c->stripe_webhook_tolerance_s = 300;
	c->stripe_webhook_refusals_days = 30;
	c->host_partner_bps = 1000;
	c->ambassador_bps = 1000;
	c->platform_bears_stripe_fee = 0;
	c->reservation_s = 15 * 60;
	c->payout_hold_days = 0;
	c->payout_retry_base_s = 3600;
	c->payout_lease_s = 300;
	c->payout_max_per_run = 5000;
	tly_strlcpy(c->connect_country, "US", sizeof(c->connect_country));
	currency_defaults(&c->currencies[0], "usd");
	c->n_currencies = 1;
	c->currencies_defaulted = 1;
	c->smtp_use_ssl = TLY_SMTP_SSL_ALL;
	c->smtp_connect_timeout_ms = 10000;
	c->smtp_timeout_ms = 30000;
	c->smtp_batch = 10;
	c->smtp_lease_s = 900;
	c->smtp_max_attempts = 10;
	c->smtp_retry_base_s = 60;
	c->smtp_retry_max_s = 6 * 3600;
	c->audit_horizon_s = 60;
	c->reports_horizon_s = 300;
	c->alert_refusals = 100;
	c->alert_refusal_window_s = 60;
}

/*
 * tly_currency_exponent - the decimals of currency 'code' at Stripe: 0
 * (zero-decimal: jpy, krw ...), 3 (bhd, jod, kwd, omr, tnd), else 2;
 * configured or not.
 */
int
tly_currency_exponent(const char *code)
{
	static const char *zero[] = { "bif", "clp", "djf", "gnf", "jpy",
	    "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf",
	    "xof", "xpf", NULL };
	static const char *three[] = { "bhd", "jod", "kwd", "omr", "tnd",
	    NULL };
	int i;

	for (i = 0; zero[i]; i++)
		if (strcmp(code, zero[i]) == 0)
			return 0;
	for (i = 0; three[i]; i++)
		if (strcmp(code, three[i]) == 0)
			return 3;
	return 2;
}

/* currency_defaults - Stripe's figures for 'code' (usd-like otherwise) */
static void
currency_defaults(tly_currency *cur, const char *code)
{
	memset(cur, 0, sizeof(*cur));
	tly_strlcpy(cur->code, code, sizeof(cur->code));
	cur->exponent = tly_currency_exponent(code);
	cur->amount_step_cent = cur->exponent == 3 ? 10 : 1;
	cur->min_charge_cent = cur->exponent == 0 ? 50 :
	    (cur->exponent == 3 ? 500 : 50);
	cur->max_charge_cent = 99999999;
	cur->stripe_fee_bps = 290;
	cur->stripe_fee_fixed_cent = cur->exponent == 0 ? 0 :
	    (cur->exponent == 3 ? 300 : 30);
	cur->platform_fee_cent = cur->exponent == 0 ? 500 :
	    (cur->exponent == 3 ? 5000 : 500);
	cur->payout_threshold_cent = cur->exponent == 0 ? 10000 :
	    (cur->exponent == 3 ? 100000 : 10000);
	cur->refund_support_limit_cent = cur->payout_threshold_cent;
	cur->refund_support_daily_cent = cur->refund_support_limit_cent * 10;
}

typedef struct loader {
	tly_ini		*ini;
	char		*why;
	size_t		 whysz;
	int		 failed;
	int		 literal;	/* a secret was written in the file */
	const char	*env_file;	/* read for env:NAME, or NULL */
} loader;

static void
bad(loader *ld, const char *sec, const char *key, const char *what)
{
	if (ld->failed)
		return;
	ld->failed = 1;
	snprintf(ld->why, ld->whysz, "%s: [%s] %s: %s", ld->ini->path, sec,
	    key, what);
}

static void
get_str(loader *ld, const char *sec, const char *key, char *dst, size_t sz)
{
	const char *v;

	v = tly_ini_get(ld->ini, sec, key);
	if (v == NULL)
		return;
	if (tly_strlcpy(dst, v, sz) >= sz)
		bad(ld, sec, key, "value too long");
}

static void
get_int(loader *ld, const char *sec, const char *key, int *dst, int min,
    int max)
{
	const char *v;
	int64_t n;
	char what[80];

	v = tly_ini_get(ld->ini, sec, key);
	if (v == NULL)
		return;
	if (tly_parse_i64(v, &n) != TLY_OK || n < min || n > max) {
		snprintf(what, sizeof(what), "must be an integer in %d..%d",
		    min, max);
		bad(ld, sec, key, what);
		return;
	}
	*dst = (int)n;
}

static void
get_bool(loader *ld, const char *sec, const char *key, int *dst)
{
	const char *v;

	v = tly_ini_get(ld->ini, sec, key);
	if (v == NULL)
		return;
	if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 ||
	    strcmp(v, "1") == 0 || strcmp(v, "on") == 0)
		*dst = 1;
	else if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 ||
	    strcmp(v, "0") == 0 || strcmp(v, "off") == 0)
		*dst = 0;
	else
		bad(ld, sec, key, "must be yes or no");
}

/*
 * read_first_line - the first line of file 'path' into 'dst'; a line
 * that does not fit is TLY_TOO_LARGE (fgets used to cut it silently,
 * which loaded a truncated secret).
 */
static int
read_first_line(const char *path, char *dst, size_t sz)
{
	FILE *f;
	size_t n;
	int c;

	f = fopen(path, "r");
	if (f == NULL)
		return TLY_ERR;
	if (fgets(dst, (int)sz, f) == NULL) {
		fclose(f);
		return TLY_ERR;
	}
	n = strlen(dst);
	if (n > 0 && n == sz - 1 && dst[n - 1] != '\n') {
		c = getc(f);
		if (c == '\r')
			c = getc(f);
		if (c != EOF && c != '\n') {
			fclose(f);
			return TLY_TOO_LARGE;
		}
	}
	fclose(f);
	while (n > 0 && (dst[n - 1] == '\n' || dst[n - 1] == '\r'))
		dst[--n] = '\0';
	return TLY_OK;
}

/* get_secret - a value that may be "env:NAME" or "file:/path" */
static void
get_secret(loader *ld, const char *sec, const char *key, char *dst,
    size_t sz)
{
	const char *v, *e;
	char what[384];
	int rc;

	v = tly_ini_get(ld->ini, sec, key);
	if (v == NULL)
		return;
	if (strncmp(v, "env:", 4) == 0) {
		e = getenv(v + 4);
		if (e == NULL || *e == '\0') {
			if (ld->env_file)
				snprintf(what, sizeof(what), "environment "
				    "variable %s is not set (neither in the "
				    "environment nor in %s)", v + 4,
				    ld->env_file);
			else
				snprintf(what, sizeof(what), "environment "
				    "variable %s is not set (and no env_file: "
				    "point [tally] env_file or tallyctl "
				    "--env-file at the unit's "
				    "EnvironmentFile)", v + 4);
			bad(ld, sec, key, what);
			return;
		}
		v = e;
	} else if (strncmp(v, "file:", 5) == 0) {
		rc = read_first_line(v + 5, dst, sz);
		if (rc == TLY_TOO_LARGE)
			bad(ld, sec, key, "secret file: first line too long");
		else if (rc != TLY_OK)
			bad(ld, sec, key, "cannot read the secret file");
		return;
	} else if (*v != '\0')
		ld->literal = 1;
	if (tly_strlcpy(dst, v, sz) >= sz)
		bad(ld, sec, key, "value too long");
}

/* get_list - comma-separated secrets into up to 'n' slots */
static void
get_secret_list(loader *ld, const char *sec, const char *key,
    char dst[][128], int n)
{
	char all[512], *p, *tok, *save = NULL;
	int i = 0;

	all[0] = '\0';
	get_secret(ld, sec, key, all, sizeof(all));
	for (p = all; (tok = strtok_r(p, ", ", &save)) != NULL; p = NULL) {
		if (i == n) {
			bad(ld, sec, key, "at most two secrets (rotation)");
			return;
		}
		if (tly_strlcpy(dst[i++], tok, 128) >= 128)
			bad(ld, sec, key, "secret too long");
	}
}

/*
 * origins_ok - 'v' is a space-separated list of web origins (http:// or
 * https://, a host, maybe a port; no path, query or fragment), or empty
 */
static int
origins_ok(const char *v)
{
	const char *p = v, *h;

	while (*p) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		if (strncmp(p, "https://", 8) == 0)
			p += 8;
		else if (strncmp(p, "http://", 7) == 0)
			p += 7;
		else
			return 0;
		for (h = p; *p && *p != ' '; p++)
			if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' &&
			    *p <= '9') || *p == '.' || *p == '-' || *p == ':' ||
			    *p == '[' || *p == ']'))
				return 0;
		if (p == h)
			return 0;
	}
	return 1;
}

static void
load_tally(loader *ld, tly_config *c)
{
	const char *v;
	int n;

	v = tly_ini_get(ld->ini, "tally", "log_level");
	if (v) {
		n = tly_log_level_parse(v);
		if (n < 0 || n > TLY_LOG_ERROR)
			bad(ld, "tally", "log_level",
			    "must be debug, info, warn or error");
		else
			c->log_level = n;
	}
	get_str(ld, "tally", "log_file", c->log_file, sizeof(c->log_file));
	get_str(ld, "tally", "pid_file", c->pid_file, sizeof(c->pid_file));
	get_str(ld, "tally", "schema_dir", c->schema_dir,
	    sizeof(c->schema_dir));
	get_str(ld, "tally", "public_url", c->public_url,
	    sizeof(c->public_url));
	get_str(ld, "tally", "env_file", c->env_file, sizeof(c->env_file));
	get_str(ld, "tally", "shop_origin", c->shop_origins,
	    sizeof(c->shop_origins));
	if (!origins_ok(c->shop_origins))
		bad(ld, "tally", "shop_origin", "must be origins such as "
		    "https://shop.example (scheme, host, port; no path), "
		    "separated by spaces");
	n = (int)c->max_body_bytes;
	get_int(ld, "tally", "max_body_bytes", &n, 1024, 64 << 20);
	c->max_body_bytes = (size_t)n;
	get_int(ld, "tally", "request_timeout", &c->request_timeout_s, 1,
	    3600);
	get_int(ld, "tally", "shutdown_timeout", &c->shutdown_timeout_s, 1,
	    3600);
}

static void
load_db(loader *ld, tly_config *c)
{
	get_str(ld, "db", "host", c->db_host, sizeof(c->db_host));
	get_int(ld, "db", "port", &c->db_port, 1, 65535);
	get_str(ld, "db", "socket", c->db_socket, sizeof(c->db_socket));
	get_str(ld, "db", "user", c->db_user, sizeof(c->db_user));
	get_secret(ld, "db", "password", c->db_password,
	    sizeof(c->db_password));
	get_str(ld, "db", "database", c->db_name, sizeof(c->db_name));
	get_str(ld, "db", "migrate_user", c->db_migrate_user,
	    sizeof(c->db_migrate_user));
	get_str(ld, "db", "user_host", c->db_user_host,
	    sizeof(c->db_user_host));
	get_int(ld, "db", "connect_timeout", &c->db_connect_timeout_s, 1, 60);
	get_int(ld, "db", "rw_timeout", &c->db_rw_timeout_s, 1, 3600);
	get_int(ld, "db", "tx_max_attempts", &c->tx_max_attempts, 1, 100);
}

static void
load_pools(loader *ld, tly_config *c)
{
	tly_pool_conf *p;
	const char *v;
	char *end;
	long mode;
	int i;

	for (i = 0; i < TLY_NPOOLS; i++) {
		p = &c->pools[i];
		get_str(ld, p->name, "socket", p->socket, sizeof(p->socket));
		get_str(ld, p->name, "socket_group", p->socket_group,
		    sizeof(p->socket_group));
		get_int(ld, p->name, "workers", &p->workers, 1, 512);
		get_int(ld, p->name, "max_requests", &p->max_requests, 1,
		    100000000);
		get_int(ld, p->name, "listen_backlog", &p->listen_backlog,
		    16, 65535);
		v = tly_ini_get(ld->ini, p->name, "socket_mode");
		if (v) {
			errno = 0;
			mode = strtol(v, &end, 8);
			/* end == v: an empty value is no mode (it was 0) */
			if (errno || end == v || *end || mode < 0 ||
			    mode > 0777)
				bad(ld, p->name, "socket_mode",
				    "must be an octal mode such as 0660");
			else
				p->socket_mode = (int)mode;
		}
		if (p->socket[0] != '/')
			bad(ld, p->name, "socket", "must be an absolute path");
	}
}

/* load_pem - the RS256 public key in PEM file 'path' ([sec] key) */
static void *
load_pem(loader *ld, const char *sec, const char *key, const char *path)
{
	FILE *f;
	EVP_PKEY *k;

	f = fopen(path, "r");
	if (f == NULL) {
		bad(ld, sec, key, "cannot open");
		return NULL;
	}
	k = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	if (k == NULL || EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA ||
	    EVP_PKEY_get_bits(k) < 2048) {
		EVP_PKEY_free(k);
		bad(ld, sec, key,
		    "not an RSA public key of at least 2048 bits in PEM");
		return NULL;
	}
	return k;
}

/*
 * load_pubkey - the RS256 keys of issuer [sec]: public_key_file (tokens
 * without "kid") and public_key_file.KID (tokens whose "kid" is KID:
 * the identity provider's keys during a rotation, old and new at once)
 */
static void
load_pubkey(loader *ld, const char *sec, tly_jwt_issuer *is)
{
	static const char pfx[] = "public_key_file.";
	const char *path;
	tly_ini_ent *e;
	tly_jwt_key *k;
	size_t i;

	path = tly_ini_get(ld->ini, sec, "public_key_file");
	if (path != NULL)
		is->pubkey = load_pem(ld, sec, "public_key_file", path);
	for (i = 0; i < ld->ini->n; i++) {
		e = &ld->ini->v[i];
		if (strcmp(e->section, sec) != 0 ||
		    strncmp(e->key, pfx, sizeof(pfx) - 1) != 0)
			continue;
		e->used = 1;
		if (is->nkeys == TLY_MAX_JWT_KEYS) {
			bad(ld, sec, e->key, "too many keys");
			return;
		}
		k = &is->keys[is->nkeys];
		if (tly_strlcpy(k->kid, e->key + sizeof(pfx) - 1,
		    sizeof(k->kid)) >= sizeof(k->kid)) {
			bad(ld, sec, e->key, "kid longer than 63 bytes");
			return;
		}
		k->pubkey = load_pem(ld, sec, e->key, e->value);
		if (k->pubkey == NULL)
			return;
		is->nkeys++;
	}
	if (path == NULL && is->nkeys == 0)
		bad(ld, sec, "public_key_file", "required for alg = RS256");
}

static void
load_issuer(loader *ld, tly_config *c, const char *sec)
{
	tly_jwt_issuer *is;
	const char *alg;
	char what[256];
	int i;

	if (c->n_issuers == TLY_MAX_ISSUERS) {
		bad(ld, sec, "", "too many [jwt.*] sections");
		return;
	}
	is = &c->issuers[c->n_issuers++];
	tly_strlcpy(is->name, sec + 4, sizeof(is->name));
	is->leeway_s = 30;
	tly_strlcpy(is->email_claim, "email", sizeof(is->email_claim));
	get_str(ld, sec, "issuer", is->iss, sizeof(is->iss));
	get_str(ld, sec, "audience", is->aud, sizeof(is->aud));
	get_str(ld, sec, "email_claim", is->email_claim,
	    sizeof(is->email_claim));
	get_int(ld, sec, "leeway", &is->leeway_s, 0, 300);
	get_str(ld, sec, "typ", is->typ, sizeof(is->typ));
	get_int(ld, sec, "max_lifetime", &is->max_lifetime_s, 0,
	    366 * 86400);
	if (is->iss[0] == '\0')
		bad(ld, sec, "issuer", "required");
	for (i = 0; i + 1 < c->n_issuers && is->iss[0]; i++)
		if (strcmp(c->issuers[i].iss, is->iss) == 0) {
			/* which section's key would verify its tokens? */
			snprintf(what, sizeof(what),
			    "%.200s is already [jwt.%s]",
			    is->iss, c->issuers[i].name);
			bad(ld, sec, "issuer", what);
		}
	if (is->aud[0] == '\0')
		bad(ld, sec, "audience", "required");
	alg = tly_ini_get(ld->ini, sec, "alg");
	if (alg && strcmp(alg, "HS256") == 0) {
		is->alg = TLY_JWT_HS256;
		get_secret(ld, sec, "secret", is->secret, sizeof(is->secret));
		is->secret_len = strlen(is->secret);
		if (is->secret_len < 32)
			bad(ld, sec, "secret",
			    "HS256 needs a secret of at least 32 bytes");
	} else if (alg && strcmp(alg, "RS256") == 0) {
		is->alg = TLY_JWT_RS256;
		load_pubkey(ld, sec, is);
	} else
		bad(ld, sec, "alg", "must be HS256 or RS256");
}

static void
load_rate(loader *ld, const char *key, tly_rate_conf *r)
{
	char k[64];

	snprintf(k, sizeof(k), "%s_per_second", key);
	get_int(ld, "ratelimit", k, &r->per_second, 0, 1000000);
	snprintf(k, sizeof(k), "%s_burst", key);
	get_int(ld, "ratelimit", k, &r->burst, 1, 10000000);
}

static void
load_auth(loader *ld, tly_config *c)
{
	get_int(ld, "admin_auth", "session_ttl", &c->session_ttl_s, 60,
	    30 * 86400);
	get_int(ld, "admin_auth", "session_idle", &c->session_idle_s, 60,
	    30 * 86400);
	get_bool(ld, "admin_auth", "cookie_secure", &c->cookie_secure);
	get_int(ld, "admin_auth", "login_max_failures",
	    &c->login_max_failures, 1, 1000);
	get_int(ld, "admin_auth", "login_window", &c->login_window_s, 10,
	    86400);
	get_int(ld, "admin_auth", "login_max_delay", &c->login_max_delay_s, 1,
	    3600);
	/* scrypt below 2^14 is too cheap to stand a stolen table */
	get_int(ld, "admin_auth", "kdf_log2_n", &c->kdf_log2_n, 14, 20);
	load_rate(ld, "buyer", &c->rate_buyer);
	load_rate(ld, "server", &c->rate_server);
	load_rate(ld, "admin", &c->rate_admin);
}

static void
load_stripe(loader *ld, tly_config *c)
{
	get_str(ld, "stripe", "api_base", c->stripe_api_base,
	    sizeof(c->stripe_api_base));
	get_secret(ld, "stripe", "secret_key", c->stripe_secret_key,
	    sizeof(c->stripe_secret_key));
	get_str(ld, "stripe", "publishable_key", c->stripe_publishable_key,
	    sizeof(c->stripe_publishable_key));
	get_secret_list(ld, "stripe", "webhook_secret",
	    c->stripe_webhook_secrets, TLY_MAX_WH_SECRETS);
	get_secret_list(ld, "stripe", "connect_webhook_secret",
	    c->stripe_connect_webhook_secrets, TLY_MAX_WH_SECRETS);
	get_int(ld, "stripe", "connect_timeout_ms",
	    &c->stripe_connect_timeout_ms, 100, 60000);
	get_int(ld, "stripe", "timeout_ms", &c->stripe_timeout_ms, 500,
	    120000);
	get_int(ld, "stripe", "max_retries", &c->stripe_max_retries, 0, 10);
	get_int(ld, "stripe", "retry_base_ms", &c->stripe_retry_base_ms, 1,
	    10000);
	get_int(ld, "stripe", "webhook_tolerance",
	    &c->stripe_webhook_tolerance_s, 10, 3600);
	get_int(ld, "stripe", "webhook_refusals_days",
	    &c->stripe_webhook_refusals_days, 1, 3650);
}

static void
get_i64(loader *ld, const char *sec, const char *key, int64_t *dst,
    int64_t min, int64_t max)
{
	const char *v;
	int64_t n;
	char what[96];

	v = tly_ini_get(ld->ini, sec, key);
	if (v == NULL)
		return;
	if (tly_parse_i64(v, &n) != TLY_OK || n < min || n > max) {
		snprintf(what, sizeof(what), "must be an integer in %lld..%lld",
		    (long long)min, (long long)max);
		bad(ld, sec, key, what);
		return;
	}
	*dst = n;
}

static void
load_pricing(loader *ld, tly_config *c)
{
	const char *v;

	get_i64(ld, "pricing", "host_partner_bps", &c->host_partner_bps, 0,
	    10000);
	get_i64(ld, "pricing", "ambassador_bps", &c->ambassador_bps, 0, 10000);
	get_int(ld, "pricing", "reservation_seconds", &c->reservation_s, 10,
	    7 * 86400);
	v = tly_ini_get(ld->ini, "pricing", "stripe_fee_payer");
	if (v && strcmp(v, "talent") == 0)
		c->platform_bears_stripe_fee = 0;
	else if (v && strcmp(v, "platform") == 0)
		c->platform_bears_stripe_fee = 1;
	else if (v)
		bad(ld, "pricing", "stripe_fee_payer",
		    "must be talent or platform");
	v = tly_ini_get(ld->ini, "pricing", "dispute_fee_payer");
	if (v && strcmp(v, "talent") == 0)
		c->platform_bears_dispute_fee = 0;
	else if (v && strcmp(v, "platform") == 0)
		c->platform_bears_dispute_fee = 1;
	else if (v)
		bad(ld, "pricing", "dispute_fee_payer",
		    "must be talent or platform");
}

/* load_payouts - [payouts]: the payout job and Connect onboarding */
static void
load_payouts(loader *ld, tly_config *c)
{
	size_t i;

	get_int(ld, "payouts", "hold_days", &c->payout_hold_days, 0, 3650);
	get_int(ld, "payouts", "retry_base", &c->payout_retry_base_s, 1,
	    86400);
	get_int(ld, "payouts", "lease", &c->payout_lease_s, 1, 86400);
	get_int(ld, "payouts", "max_per_run", &c->payout_max_per_run, 1,
	    1000000);
	get_bool(ld, "payouts", "reverse_transfers",
	    &c->payout_reverse_transfers);
	get_str(ld, "payouts", "connect_country", c->connect_country,
	    sizeof(c->connect_country));
	for (i = 0; c->connect_country[i]; i++)
		if (c->connect_country[i] < 'A' || c->connect_country[i] > 'Z')
			break;
	if (i != 2 || c->connect_country[i])
		bad(ld, "payouts", "connect_country",
		    "must be an ISO 3166 country code in capitals");
	get_str(ld, "payouts", "onboarding_return_url",
	    c->connect_return_url, sizeof(c->connect_return_url));
	get_str(ld, "payouts", "onboarding_refresh_url",
	    c->connect_refresh_url, sizeof(c->connect_refresh_url));
}

static void
load_currency(loader *ld, tly_config *c, const char *sec)
{
	const char *code = sec + 9;
	tly_currency *cur;
	int i;

	for (i = 0; code[i]; i++)
		if (code[i] < 'a' || code[i] > 'z')
			break;
	if (i != 3 || code[i]) {
		bad(ld, sec, "", "the section must be [currency.xyz] with an "
		    "ISO 4217 code in lowercase");
		return;
	}
	if (c->currencies_defaulted) {		/* configured: only those */
		c->n_currencies = 0;
		c->currencies_defaulted = 0;
	}
	if (c->n_currencies == TLY_MAX_CURRENCIES) {
		bad(ld, sec, "", "too many [currency.*] sections");
		return;
	}
	cur = &c->currencies[c->n_currencies++];
	currency_defaults(cur, code);
	get_int(ld, sec, "exponent", &cur->exponent, 0, 4);
	get_i64(ld, sec, "min_charge_cent", &cur->min_charge_cent, 1,
	    INT64_MAX / 2);
	get_i64(ld, sec, "max_charge_cent", &cur->max_charge_cent, 1,
	    INT64_MAX / 2);
	get_i64(ld, sec, "amount_step", &cur->amount_step_cent, 1, 1000);
	get_i64(ld, sec, "stripe_fee_bps", &cur->stripe_fee_bps, 0, 10000);
	get_i64(ld, sec, "stripe_fee_fixed_cent", &cur->stripe_fee_fixed_cent,
	    0, INT64_MAX / 2);
	get_i64(ld, sec, "platform_fee_cent", &cur->platform_fee_cent, 0,
	    INT64_MAX / 2);
	get_i64(ld, sec, "payout_threshold_cent", &cur->payout_threshold_cent,
	    1, INT64_MAX / 2);
	get_i64(ld, sec, "refund_support_limit_cent",
	    &cur->refund_support_limit_cent, 0, INT64_MAX / 2);
	/* unset: ten refunds at the limit a day */
	if (tly_ini_get(ld->ini, sec, "refund_support_daily_cent") == NULL)
		cur->refund_support_daily_cent =
		    cur->refund_support_limit_cent > INT64_MAX / 20 ?
		    INT64_MAX / 2 : cur->refund_support_limit_cent * 10;
	get_i64(ld, sec, "refund_support_daily_cent",
	    &cur->refund_support_daily_cent, 0, INT64_MAX / 2);
	if (cur->min_charge_cent > cur->max_charge_cent)
		bad(ld, sec, "min_charge_cent", "above max_charge_cent");
}

/* load_ops - [audit], [alerts], [metrics] (docs/operations.md) */
static void
load_ops(loader *ld, tly_config *c)
{
	get_int(ld, "audit", "chain_horizon", &c->audit_horizon_s, 0, 3600);
	get_str(ld, "alerts", "email", c->alerts_email,
	    sizeof(c->alerts_email));
	get_int(ld, "alerts", "webhook_refusals", &c->alert_refusals, 0,
	    1000000000);
	get_int(ld, "alerts", "webhook_refusal_window",
	    &c->alert_refusal_window_s, 10, 86400);
	get_secret(ld, "metrics", "token", c->metrics_token,
	    sizeof(c->metrics_token));
}

/* load_smtp - [smtp]: where and how the outbox sends (core/outbox.c) */
static void
load_smtp(loader *ld, tly_config *c)
{
	const char *v, *at;

	get_str(ld, "smtp", "url", c->smtp_url, sizeof(c->smtp_url));
	get_str(ld, "smtp", "from", c->smtp_from, sizeof(c->smtp_from));
	get_str(ld, "smtp", "username", c->smtp_username,
	    sizeof(c->smtp_username));
	get_secret(ld, "smtp", "password", c->smtp_password,
	    sizeof(c->smtp_password));
	get_str(ld, "smtp", "ca_file", c->smtp_ca_file,
	    sizeof(c->smtp_ca_file));
	get_str(ld, "smtp", "ca_path", c->smtp_ca_path,
	    sizeof(c->smtp_ca_path));
	get_int(ld, "smtp", "connect_timeout_ms", &c->smtp_connect_timeout_ms,
	    100, 120000);
	get_int(ld, "smtp", "timeout_ms", &c->smtp_timeout_ms, 500, 600000);
	get_int(ld, "smtp", "batch", &c->smtp_batch, 1, 100);
	get_int(ld, "smtp", "lease", &c->smtp_lease_s, 2, 86400);
	get_int(ld, "smtp", "max_attempts", &c->smtp_max_attempts, 1, 100);
	get_int(ld, "smtp", "retry_base", &c->smtp_retry_base_s, 1, 86400);
	get_int(ld, "smtp", "retry_max", &c->smtp_retry_max_s, 1, 30 * 86400);
	v = tly_ini_get(ld->ini, "smtp", "use_ssl");
	if (v && strcmp(v, "none") == 0)
		c->smtp_use_ssl = TLY_SMTP_SSL_NONE;
	else if (v && strcmp(v, "try") == 0)
		c->smtp_use_ssl = TLY_SMTP_SSL_TRY;
	else if (v && strcmp(v, "all") == 0)
		c->smtp_use_ssl = TLY_SMTP_SSL_ALL;
	else if (v)
		bad(ld, "smtp", "use_ssl", "must be none, try or all");
	if (c->smtp_url[0] == '\0')
		return;
	/* credentials in the URL would end up in logs: keys only */
	if (strncmp(c->smtp_url, "smtp://", 7) != 0 &&
	    strncmp(c->smtp_url, "smtps://", 8) != 0)
		bad(ld, "smtp", "url", "must start with smtp:// or smtps://");
	else if (strchr(c->smtp_url, '@') != NULL)
		bad(ld, "smtp", "url", "no user or password in the URL: use "
		    "username and password");
	at = strchr(c->smtp_from, '@');
	if (at == NULL || at == c->smtp_from || at[1] == '\0' ||
	    strpbrk(c->smtp_from, " \t\r\n<>\",;()") != NULL)
		bad(ld, "smtp", "from", "required: a plain address such as "
		    "receipts@example.com");
	if ((int64_t)c->smtp_lease_s * 1000 <= (int64_t)c->smtp_batch *
	    (c->smtp_connect_timeout_ms + c->smtp_timeout_ms))
		bad(ld, "smtp", "lease", "must exceed batch x "
		    "(connect_timeout_ms + timeout_ms): a claim must outlive "
		    "the sends it covers");
	if (c->smtp_retry_max_s < c->smtp_retry_base_s)
		bad(ld, "smtp", "retry_max", "below retry_base");
}

static void
load_job(loader *ld, tly_config *c, const char *sec)
{
	tly_job_conf *j;

	if (c->n_jobs == TLY_MAX_JOBS) {
		bad(ld, sec, "", "too many [job.*] sections");
		return;
	}
	j = &c->jobs[c->n_jobs++];
	tly_strlcpy(j->name, sec + 4, sizeof(j->name));
	j->interval_s = 60;
	get_int(ld, sec, "interval", &j->interval_s, 1, 7 * 86400);
	if (strcmp(j->name, "reports") == 0)
		get_int(ld, sec, "horizon", &c->reports_horizon_s, 0, 86400);
}

/* load_named_sections - every [jwt.NAME], [job.NAME], [currency.CODE] */
static void
load_named_sections(loader *ld, tly_config *c)
{
	const char *sec;
	size_t i;

	for (i = 0; i < ld->ini->nsections; i++) {
		sec = ld->ini->sections[i];
		if (strncmp(sec, "jwt.", 4) == 0 && sec[4])
			load_issuer(ld, c, sec);
		else if (strncmp(sec, "job.", 4) == 0 && sec[4])
			load_job(ld, c, sec);
		else if (strncmp(sec, "currency.", 9) == 0)
			load_currency(ld, c, sec);
	}
}

/* env_name_ok - 's' is a shell variable name */
static int
env_name_ok(const char *s)
{
	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
	    *s == '_'))
		return 0;
	for (s++; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		    (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	return 1;
}

/*
 * tly_env_file_load - set the variables of environment file 'path' (the
 * format of systemd's EnvironmentFile: KEY=value lines, '#' and ';'
 * comments, blank lines, a value in matching single or double quotes
 * taken without them; no line continuation), overriding the
 * environment.  TLY_OK, or TLY_ERR with 'why' naming the file and line.
 */
int
tly_env_file_load(const char *path, char *why, size_t whysz)
{
	char line[1024], *k, *v, *eq, *end;
	size_t n;
	int lineno = 0;
	FILE *f;

	f = fopen(path, "r");
	if (f == NULL) {
		snprintf(why, whysz, "%s: %s", path, strerror(errno));
		return TLY_ERR;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		n = strlen(line);
		if (n == sizeof(line) - 1 && line[n - 1] != '\n') {
			snprintf(why, whysz, "%s: line %d too long",
			    path, lineno);
			fclose(f);
			return TLY_ERR;
		}
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' ||
		    line[n - 1] == ' ' || line[n - 1] == '\t'))
			line[--n] = '\0';
		for (k = line; *k == ' ' || *k == '\t'; k++)
			;
		if (*k == '\0' || *k == '#' || *k == ';')
			continue;
		if (strncmp(k, "export ", 7) == 0)
			k += 7;
		eq = strchr(k, '=');
		if (eq == NULL) {
			snprintf(why, whysz, "%s: line %d: not "
			    "KEY=value", path, lineno);
			fclose(f);
			return TLY_ERR;
		}
		for (end = eq; end > k && (end[-1] == ' ' || end[-1] == '\t');
		    end--)
			;
		*end = '\0';
		for (v = eq + 1; *v == ' ' || *v == '\t'; v++)
			;
		n = strlen(v);
		if (n >= 2 && (v[0] == '"' || v[0] == '\'') &&
		    v[n - 1] == v[0]) {
			v[n - 1] = '\0';
			v++;
		}
		if (!env_name_ok(k)) {
			snprintf(why, whysz, "%s: line %d: bad "
			    "variable name", path, lineno);
			fclose(f);
			return TLY_ERR;
		}
		if (setenv(k, v, 1) != 0) {
			snprintf(why, whysz, "%s: %s", path,
			    strerror(errno));
			fclose(f);
			return TLY_ERR;
		}
	}
	fclose(f);
	return TLY_OK;
}

/*
 * tly_config_load - defaults, then file 'path'.  On failure 'why' names
 * the problem and 'c' holds nothing that needs freeing.
 */
int
tly_config_load(tly_config *c, const char *path, char *why, size_t whysz)
{
	return tly_config_load_env(c, path, NULL, why, whysz);
}

/*
 * tly_config_load_env - tly_config_load, with the env:NAME secrets read
 * from environment file 'env_file' when it is not NULL (it then replaces
 * [tally] env_file), else from [tally] env_file when set.
 */
int
tly_config_load_env(tly_config *c, const char *path, const char *env_file,
    char *why, size_t whysz)
{
	tly_ini ini;
	loader ld;
	const tly_ini_ent *u;
	char envwhy[384];

	tly_config_defaults(c);
	tly_strlcpy(c->path, path, sizeof(c->path));
	if (tly_ini_load(&ini, path, why, whysz) != TLY_OK)
		return TLY_ERR;
	ld.ini = &ini;
	ld.why = why;
	ld.whysz = whysz;
	ld.failed = 0;
	ld.literal = 0;
	ld.env_file = NULL;
	load_tally(&ld, c);
	if (env_file != NULL && *env_file != '\0')
		tly_strlcpy(c->env_file, env_file, sizeof(c->env_file));
	if (!ld.failed && c->env_file[0] != '\0') {
		ld.env_file = c->env_file;
		if (tly_env_file_load(c->env_file, envwhy, sizeof(envwhy)) !=
		    TLY_OK) {
			snprintf(why, whysz, "%s: [tally] env_file: %s", path,
			    envwhy);
			ld.failed = 1;
		}
	}
	load_db(&ld, c);
	load_pools(&ld, c);
	load_auth(&ld, c);
	load_stripe(&ld, c);
	load_pricing(&ld, c);
	load_payouts(&ld, c);
	load_smtp(&ld, c);
	load_ops(&ld, c);
	load_named_sections(&ld, c);
	u = tly_ini_unused(&ini);
	if (!ld.failed && u) {
		snprintf(why, whysz, "%s: line %d: unknown key '%s' in [%s]",
		    path, u->line, u->key, u->section);
		ld.failed = 1;
	}
	tly_ini_free(&ini);
	c->literal_secrets = ld.literal;
	if (ld.failed) {
		tly_config_free(c);
		return TLY_ERR;
	}
	return TLY_OK;
}

/* tly_config_free - release what loading allocated (RS256 keys) */
void
tly_config_free(tly_config *c)
{
	int i;

	int k;

	for (i = 0; i < c->n_issuers; i++) {
		EVP_PKEY_free(c->issuers[i].pubkey);
		c->issuers[i].pubkey = NULL;
		for (k = 0; k < c->issuers[i].nkeys; k++) {
			EVP_PKEY_free(c->issuers[i].keys[k].pubkey);
			c->issuers[i].keys[k].pubkey = NULL;
		}
		c->issuers[i].nkeys = 0;
	}
}

/* tly_config_currency - the configured currency 'code', or NULL */
const tly_currency *
tly_config_currency(const tly_config *c, const char *code)
{
	int i;

	if (code == NULL)
		return NULL;
	for (i = 0; i < c->n_currencies; i++)
		if (strcmp(c->currencies[i].code, code) == 0)
			return &c->currencies[i];
	return NULL;
}

/* tly_config_issuer - the issuer whose "iss" is 'iss', or NULL */
const tly_jwt_issuer *
tly_config_issuer(const tly_config *c, const char *iss)
{
	int i;

	for (i = 0; i < c->n_issuers; i++)
		if (strcmp(c->issuers[i].iss, iss) == 0)
			return &c->issuers[i];
	return NULL;
}

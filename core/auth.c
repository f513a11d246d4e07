/*
 * auth.c - principals, API keys, admin users and sessions
 *
 * Owns the tables api_keys, admin_users, admin_sessions, login_throttle,
 * buyer_identities (and the buyer rows of accounts).  Every change made
 * on behalf of an actor (an admin, or the operator through tallyctl) is
 * audited in its own transaction (audit.h).
 *
 * Secrets are never stored or logged: API keys and session tokens are
 * kept as SHA-256 (they carry 190 random bits, so a fast hash suffices),
 * passwords as scrypt (tly_kdf.h).  Login attempts are counted per user
 * and per client address in login_throttle, atomically with the check
 * (see "Login throttling" below): a user's failures bring a progressive
 * delay, never a lock of the right password; an address has a hard
 * limit.  A refused attempt is answered 429 before the password is even
 * checked, and a login for an unknown user costs the same scrypt as a
 * real one, so neither timing nor the answer tells whether a username
 * exists.
 *
 * Buyer accounts are created on first use by a plain INSERT that treats a
 * duplicate key as "someone else created it first" (docs/architecture.md,
 * "The database": never a locking read of a row that does not exist yet).
 *
 * API:	tly_auth_buyer(), tly_auth_server(), tly_auth_admin(),
 *	tly_apikey_create(), tly_apikey_revoke(), tly_admin_create(),
 *	tly_admin_set_password(), tly_admin_login(), tly_admin_logout(),
 *	tly_role_name(), tly_role_parse(), tly_actor_name().
 */
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "auth.h"
#include "jwt.h"
#include "tly_kdf.h"
#include "tly_str.h"
#include "tx.h"

static const char *role_names[] = {
	"none", "viewer", "support", "finance", "admin"
};

/* tly_role_name - "viewer" .. "admin" */
const char *
tly_role_name(int r)
{
	return r >= TLY_ROLE_NONE && r <= TLY_ROLE_ADMIN ? role_names[r] : "?";
}

/* tly_role_parse - a role name to its level; TLY_ROLE_NONE if unknown */
int
tly_role_parse(const char *s)
{
	int i;

	for (i = TLY_ROLE_VIEWER; i <= TLY_ROLE_ADMIN; i++)
		if (strcmp(s, role_names[i]) == 0)
			return i;
	return TLY_ROLE_NONE;
}

/* tly_principal_kind_name - "buyer", "server", "admin", "stripe" */
const char *
tly_principal_kind_name(int k)
{
	switch (k) {
	case TLY_PK_BUYER:	return "buyer";
	case TLY_PK_SERVER:	return "server";
	case TLY_PK_ADMIN:	return "admin";
	case TLY_PK_STRIPE:	return "stripe";
	case TLY_PK_OPERATOR:	return "operator";
	default:		return "public";
	}
}

static int
unauthenticated(tly_err *err)
{
	return tly_err_set(err, TLY_EK_AUTH, "invalid_credentials",
	    "Authentication failed.");
}

/* --- buyers ------------------------------------------------------------ */

typedef struct buyer_args {
	const char	*iss;
	const char	*sub;
	const char	*email;
	char		 id[40];
} buyer_args;

/* buyer_create_tx - a buyer account and its identity, or TLY_CONFLICT */
static int
buyer_create_tx(tly_ctx *ctx, void *arg, tly_err *err)
{
	buyer_args *a = arg;
	int rc;

	if (tly_id_new(a->id, sizeof(a->id), "acc") != TLY_OK)
		return tly_err_internal(err);
	rc = tly_db_exec(ctx->db, err, NULL,
	    "INSERT INTO accounts (id, kind, email) VALUES (?, 'buyer', ?)",
	    "ss", a->id, a->email && *a->email ? a->email : NULL);
	if (rc)
		return rc;
	return tly_db_exec(ctx->db, err, NULL,
	    "INSERT INTO buyer_identities (issuer, sub, account_id) "
	    "VALUES (?, ?, ?)", "sss", a->iss, a->sub, a->id);
}

static int
buyer_lookup(tly_ctx *ctx, buyer_args *a, tly_err *err)
{
	return tly_db_row(ctx->db, err,
	    "SELECT account_id FROM buyer_identities "
	    "WHERE issuer = ? AND sub = ?", "ss>s", a->iss, a->sub, a->id,
	    sizeof(a->id));
}

/* buyer_account - the account of (iss, sub), created on first use */
static int
buyer_account(tly_ctx *ctx, buyer_args *a, tly_err *err)
{
	int rc;

	rc = buyer_lookup(ctx, a, err);
	if (rc != TLY_NOTFOUND)
		return rc;
	rc = tly_tx_run(ctx, "buyer.create", buyer_create_tx, a, err);
	if (rc == TLY_CONFLICT) {	/* a concurrent first request won */
		tly_err_clear(err);
		rc = buyer_lookup(ctx, a, err);
		if (rc == TLY_NOTFOUND)
			rc = tly_err_internal(err);
	}
	if (rc == TLY_OK)
		tly_logkv(ctx->log, TLY_LOG_INFO, "auth",
		    "buyer account created", "account_id", a->id, NULL);
	return rc;
}

/*
 * tly_auth_buyer - verify buyer token 'token' and fill 'p' with the
 * buyer's account (created on first use).
 */
int
tly_auth_buyer(tly_ctx *ctx, const char *token, tly_principal *p,
    tly_err *err)
{
	tly_jwt_claims c;
	buyer_args a;
	char why[96];
	int rc;

	rc = tly_jwt_verify(ctx->cfg, ctx->pool, token, tly_now_s(), &c, why,
	    sizeof(why), err);
	if (rc) {
		tly_logkv(ctx->log, TLY_LOG_INFO, "auth", "buyer token refused",
		    "reason", why, NULL);
		return rc;
	}
	memset(&a, 0, sizeof(a));
	a.iss = c.issuer->iss;
	a.sub = c.sub;
	a.email = c.email;
	rc = buyer_account(ctx, &a, err);
	if (rc)
		return rc;
	memset(p, 0, sizeof(*p));
	p->kind = TLY_PK_BUYER;
	tly_strlcpy(p->id, a.id, sizeof(p->id));
	tly_strlcpy(p->sub, c.sub, sizeof(p->sub));
	tly_strlcpy(p->email, c.email, sizeof(p->email));
	return TLY_OK;
}

/* --- API keys ---------------------------------------------------------- */

/* tly_auth_server - API key 'key' ("tly_sk_…") into principal 'p' */
int
tly_auth_server(tly_ctx *ctx, const char *key, tly_principal *p,
    tly_err *err)
{
	char hash[65], id[40], name[72];
	int64_t revoked = 0;
	int rc;

	if (strncmp(key, TLY_API_KEY_PREFIX, strlen(TLY_API_KEY_PREFIX)) ||
	    strlen(key) > 128)
		return unauthenticated(err);
	tly_sha256_hex(hash, key, strlen(key));
	rc = tly_db_row(ctx->db, err,
	    "SELECT id, name, revoked_at IS NOT NULL FROM api_keys "
	    "WHERE key_hash = ?", "s>ssi", hash, id, sizeof(id), name,
	    sizeof(name), &revoked);
	if (rc == TLY_NOTFOUND || (rc == TLY_OK && revoked)) {
		tly_logkv(ctx->log, TLY_LOG_INFO, "auth", "API key refused",
		    "reason", rc == TLY_OK ? "revoked" : "unknown",
		    "key_id", rc == TLY_OK ? id : NULL, NULL);
		return unauthenticated(err);
	}
	if (rc)
		return rc;
	memset(p, 0, sizeof(*p));
	p->kind = TLY_PK_SERVER;
	tly_strlcpy(p->id, id, sizeof(p->id));
	tly_strlcpy(p->name, name, sizeof(p->name));
	return TLY_OK;
}

/* tly_actor_name - how 'actor' is named in created_by columns */
const char *
tly_actor_name(const tly_principal *actor)
{
	if (actor == NULL)
		return "system";
	return actor->name[0] ? actor->name : actor->id;
}

typedef struct key_args {
	const tly_principal	*actor;
	const char		*id;
	const char		*name;
	const char		*prefix;
	const char		*hash;
	int			 revoked;	/* out: this run revoked it */
} key_args;

TLY_TX_TYPED(key_create_tx, key_args)
static int
key_create_tx(tly_ctx *ctx, key_args *a, tly_err *err)
{
	int rc;

	rc = tly_db_exec(ctx->db, err, NULL, "INSERT INTO api_keys (id, name, "
	    "prefix, key_hash, created_by) VALUES (?, ?, ?, ?, ?)", "sssss",
	    a->id, a->name, a->prefix, a->hash, tly_actor_name(a->actor));
	if (rc == TLY_OK)
		rc = tly_audit(ctx, a->actor, "api_key.create", a->id, a->name,
		    err);
	return rc;
}

/*
 * tly_apikey_create - a new key named 'name', made by 'actor'; the key
 * itself is written to 'key' (shown once, never stored) and its id to
 * 'id'.
 */
int
tly_apikey_create(tly_ctx *ctx, const tly_principal *actor, const char *name,
    char *key, size_t keysz, char *id, size_t idsz, tly_err *err)
{
	char secret[33], hash[65], prefix[16];
	key_args a;

	if (name == NULL || *name == '\0' || strlen(name) > 100)
		return tly_err_param(err, TLY_EK_INVALID, "parameter_invalid",
		    "name", "A key needs a name of 1 to 100 bytes.");
	if (keysz < sizeof(TLY_API_KEY_PREFIX) + sizeof(secret) ||
	    tly_random_token(secret, sizeof(secret)) != TLY_OK ||
	    tly_id_new(id, idsz, "key") != TLY_OK)
		return tly_err_internal(err);
	snprintf(key, keysz, "%s%s", TLY_API_KEY_PREFIX, secret);
	snprintf(prefix, sizeof(prefix), "%.12s", key);
	tly_sha256_hex(hash, key, strlen(key));
	memset(&a, 0, sizeof(a));
	a.actor = actor;
	a.id = id;
	a.name = name;
	a.prefix = prefix;
	a.hash = hash;
	return key_create_tx_run(ctx, "api_key.create", &a, err);
}

TLY_TX_TYPED(key_revoke_tx, key_args)
static int
key_revoke_tx(tly_ctx *ctx, key_args *a, tly_err *err)
{
	uint64_t n = 0;
	char found[40];
	int rc;

	a->revoked = 0;
	rc = tly_db_exec(ctx->db, err, &n, "UPDATE api_keys SET revoked_at = "
	    "NOW(3) WHERE id = ? AND revoked_at IS NULL", "s", a->id);
	if (rc == TLY_OK && n == 1) {
		a->revoked = 1;
		return tly_audit(ctx, a->actor, "api_key.revoke", a->id, NULL,
		    err);
	}
	if (rc)
		return rc;
	rc = tly_db_row(ctx->db, err, "SELECT id FROM api_keys WHERE id = ?",
	    "s>s", a->id, found, sizeof(found));
	if (rc == TLY_NOTFOUND)
		return tly_err_param(err, TLY_EK_NOT_FOUND, "resource_missing",
		    "id", "No such API key: '%.40s'.", a->id);
	return rc;
}

/*
 * tly_apikey_revoke - 'actor' revokes key 'id' (again is fine, and
 * audited once); 404 if unknown
 */
int
tly_apikey_revoke(tly_ctx *ctx, const tly_principal *actor, const char *id,
    tly_err *err)
{
	key_args a;

	memset(&a, 0, sizeof(a));
	a.actor = actor;
	a.id = id;
	return key_revoke_tx_run(ctx, "api_key.revoke", &a, err);
}

/* --- admin users and sessions ------------------------------------------- */

static int
username_ok(const char *u)
{
	size_t n = strlen(u), i;

	if (n < 2 || n > 64)
		return 0;
	for (i = 0; i < n; i++)
		if (!((u[i] >= 'a' && u[i] <= 'z') ||
		    (u[i] >= '0' && u[i] <= '9') || u[i] == '.' ||
		    u[i] == '_' || u[i] == '-' || u[i] == '@'))
			return 0;
	return 1;
}

static int
password_ok(const char *pw, tly_err *err)
{
	size_t n = strlen(pw);

	if (n < 12 || n > 256)
		return tly_err_param(err, TLY_EK_UNPROCESSABLE,
		    "password_too_weak", "password",
		    "A password needs 12 to 256 characters.");
	return TLY_OK;
}

typedef struct user_args {
	const tly_principal	*actor;
	const char		*id;
	const char		*username;
	const char		*hash;
	const char		*role;
} user_args;

TLY_TX_TYPED(user_create_tx, user_args)
static int
user_create_tx(tly_ctx *ctx, user_args *a, tly_err *err)
{
	int rc;

	rc = tly_db_exec(ctx->db, err, NULL, "INSERT INTO admin_users (id, "
	    "username, password_hash, role) VALUES (?, ?, ?, ?)", "ssss",
	    a->id, a->username, a->hash, a->role);
	if (rc == TLY_CONFLICT)
		return tly_err_param(err, TLY_EK_CONFLICT, "username_taken",
		    "username", "That username is taken.");
	if (rc == TLY_OK)
		rc = tly_audit(ctx, a->actor, "admin_user.create", a->id,
		    a->role, err);
	return rc;
}

/*
 * tly_admin_create - 'actor' makes a new admin user; its id goes to 'id'.
 * 409 when the username exists, 422 for a weak password or unknown role.
 */
int
tly_admin_create(tly_ctx *ctx, const tly_principal *actor,
    const char *username, const char *pw, int role, char *id, size_t idsz,
    tly_err *err)
{
	char hash[TLY_KDF_HASH_MAX];
	user_args a;
	int rc;

	if (!username_ok(username))
		return tly_err_param(err, TLY_EK_UNPROCESSABLE,
		    "parameter_invalid", "username", "A username has 2 to 64 "
		    "characters among a-z 0-9 . _ - @.");
	if (role == TLY_ROLE_NONE)
		return tly_err_param(err, TLY_EK_UNPROCESSABLE,
		    "parameter_invalid", "role",
		    "The role must be viewer, support, finance or admin.");
	rc = password_ok(pw, err);
	if (rc)
		return rc;
	/* scrypt before the transaction: no lock is held while it runs */
	if (tly_kdf_hash(pw, ctx->cfg->kdf_log2_n, hash, sizeof(hash)) !=
	    TLY_OK || tly_id_new(id, idsz, "adm") != TLY_OK)
		return tly_err_internal(err);
	memset(&a, 0, sizeof(a));
	a.actor = actor;
	a.id = id;
	a.username = username;
	a.hash = hash;
	a.role = tly_role_name(role);
	return user_create_tx_run(ctx, "admin_user.create", &a, err);
}

TLY_TX_TYPED(user_passwd_tx, user_args)
static int
user_passwd_tx(tly_ctx *ctx, user_args *a, tly_err *err)
{
	char id[40];
	int rc;

	rc = tly_db_row(ctx->db, err, "SELECT id FROM admin_users WHERE "
	    "username = ? FOR UPDATE", "s>s", a->username, id, sizeof(id));
	if (rc == TLY_NOTFOUND)
		return tly_err_param(err, TLY_EK_NOT_FOUND, "resource_missing",
		    "username", "No such admin user.");
	if (rc == TLY_OK)
		rc = tly_db_exec(ctx->db, err, NULL, "UPDATE admin_users SET "
		    "password_hash = ? WHERE id = ?", "ss", a->hash, id);
	if (rc == TLY_OK)
		rc = tly_db_exec(ctx->db, err, NULL, "DELETE FROM "
		    "admin_sessions WHERE user_id = ?", "s", id);
	if (rc == TLY_OK)
		rc = tly_audit(ctx, a->actor, "admin_user.passwd", id,
		    a->username, err);
	return rc;
}

/*
 * tly_admin_set_password - 'actor' sets a new password for 'username';
 * its sessions end
 */
int
tly_admin_set_password(tly_ctx *ctx, const tly_principal *actor,
    const char *username, const char *pw, tly_err *err)
{
	char hash[TLY_KDF_HASH_MAX];
	user_args a;
	int rc;

	rc = password_ok(pw, err);
	if (rc)
		return rc;
	if (tly_kdf_hash(pw, ctx->cfg->kdf_log2_n, hash, sizeof(hash)) !=
	    TLY_OK)
		return tly_err_internal(err);
	memset(&a, 0, sizeof(a));
	a.actor = actor;
	a.username = username;
	a.hash = hash;
	return user_passwd_tx_run(ctx, "admin_user.passwd", &a, err);
}

/*
 * Login throttling, in login_throttle (key "user:<name>" / "ip:<addr>"):
 *
 *   per user     a progressive delay, never a lock: from the
 *                login_max_failures-th failure on, the next attempt must
 *                wait 2^(failures - login_max_failures) seconds after the
 *                last failure, at most login_max_delay; the right password
 *                gets in once the delay is over, whoever failed before.
 *                The count forgets after login_window without failures;
 *   per address  a hard limit: 4 x login_max_failures attempts per window
 *                (behind a proxy only with nginx's real_ip set up, or
 *                every client is the proxy: docs/operations.md).
 *
 * throttle_tx checks and counts an attempt in one transaction, under the
 * rows' locks (address first, then user: one order), before the password
 * is checked: concurrent attempts cannot all pass a check that none of
 * them has counted yet.  A successful login then takes its attempt back.
 */
typedef struct throttle_args {
	const char	*ukey, *ikey;
	int		 retry;		/* out: seconds, when refused */
} throttle_args;

/* throttle_row - lock key 'k' (made if absent): failures, ages in ms */
static int
throttle_row(tly_ctx *ctx, const char *k, int64_t *failures,
    int64_t *window_ms, int64_t *last_ms, tly_err *err)
{
	int rc;

	/* an upsert that changes nothing still takes the row's X lock */
	rc = tly_db_exec(ctx->db, err, NULL, "INSERT INTO login_throttle "
	    "(k, window_start, failures) VALUES (?, NOW(3), 0) ON DUPLICATE "
	    "KEY UPDATE failures = failures", "s", k);
	if (rc == TLY_OK)
		rc = tly_db_row(ctx->db, err, "SELECT failures, TIMESTAMPDIFF("
		    "MICROSECOND, window_start, NOW(3)) DIV 1000, IFNULL("
		    "TIMESTAMPDIFF(MICROSECOND, last_at, NOW(3)) DIV 1000, -1) "
		    "FROM login_throttle WHERE k = ? FOR UPDATE", "s>iii", k,
		    failures, window_ms, last_ms);
	return rc;
}

/* user_delay_ms - the wait after the last of 'failures' (0: none) */
static int64_t
user_delay_ms(const tly_config *c, int64_t failures)
{
	int64_t n = failures - c->login_max_failures;

	if (n < 0)
		return 0;
	if (n >= 20 || (1LL << n) >= c->login_max_delay_s)
		return (int64_t)c->login_max_delay_s * 1000;
	return (1LL << n) * 1000;
}

/* throttle_tx - refuse (429) or count one login attempt */
TLY_TX_TYPED(throttle_tx, throttle_args)
static int
throttle_tx(tly_ctx *ctx, throttle_args *a, tly_err *err)
{
	const tly_config *c = ctx->cfg;
	int64_t ifail, iwin, ilast, ufail, uwin, ulast, win, wait = 0;
	int rc;

	win = (int64_t)c->login_window_s * 1000;
	a->retry = 0;
	rc = throttle_row(ctx, a->ikey, &ifail, &iwin, &ilast, err);
	if (rc == TLY_OK)
		rc = throttle_row(ctx, a->ukey, &ufail, &uwin, &ulast, err);
	if (rc)
		return rc;
	if (iwin >= win)
		ifail = 0;		/* a new window for the address */
	else if (ifail >= (int64_t)c->login_max_failures * 4)
		wait = win - iwin;
	if (ulast < 0 || ulast >= win)
		ufail = 0;		/* a window without failures forgets */
	else if (user_delay_ms(c, ufail) > ulast &&
	    user_delay_ms(c, ufail) - ulast > wait)
		wait = user_delay_ms(c, ufail) - ulast;
	if (wait > 0) {
		a->retry = (int)((wait + 999) / 1000);
		tly_err_set(err, TLY_EK_RATE, "too_many_login_attempts",
		    "Too many failed logins; try again later.");
		err->retry_after = a->retry;
		return TLY_ERR;
	}
	rc = tly_db_exec(ctx->db, err, NULL, "UPDATE login_throttle SET "
	    "failures = ?, window_start = IF(? = 0, NOW(3), window_start) "
	    "WHERE k = ?", "iis", ifail + 1, ifail, a->ikey);
	if (rc == TLY_OK)
		rc = tly_db_exec(ctx->db, err, NULL, "UPDATE login_throttle "
		    "SET failures = ?, last_at = NOW(3), window_start = NOW(3) "
		    "WHERE k = ?", "is", ufail + 1, a->ukey);
	return rc;
}

/* throttle_forgive - a successful login: its attempt was no failure */
static void
throttle_forgive(tly_ctx *ctx, const char *ukey, const char *ikey)
{
	tly_err ignored;

	tly_err_clear(&ignored);
	(void)tly_db_exec(ctx->db, &ignored, NULL, "DELETE FROM "
	    "login_throttle WHERE k = ?", "s", ukey);
	(void)tly_db_exec(ctx->db, &ignored, NULL, "UPDATE login_throttle SET "
	    "failures = failures - 1 WHERE k = ? AND failures > 0", "s", ikey);
}

/*
 * throttle_key - "user:" and 'username' as the throttle knows it: ASCII
 * white space trimmed, lower case, any byte no username has as '?', so
 * that "Admin " is throttled as admin (and never logs in as admin: the
 * login takes only an exact, valid username)
 */
static void
throttle_key(char *dst, size_t sz, const char *username)
{
	const char *s = username, *e;
	size_t n = 0;
	char ch;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	n = tly_strlcpy(dst, "user:", sz);
	for (; s < e && n + 1 < sz && n < 5 + 64; s++) {
		ch = *s >= 'A' && *s <= 'Z' ? (char)(*s - 'A' + 'a') : *s;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		    ch == '.' || ch == '_' || ch == '-' || ch == '@'))
			ch = '?';
		dst[n++] = ch;
	}
	dst[n] = '\0';
}

typedef struct session_args {
	const tly_principal	*actor;
	const char		*hash;	/* of the session token */
	const char		*addr;
	tly_session		*s;
} session_args;

/* session_tx - the new session and its audit row, together */
TLY_TX_TYPED(session_tx, session_args)
static int
session_tx(tly_ctx *ctx, session_args *a, tly_err *err)
{
	int rc;

	rc = tly_db_exec(ctx->db, err, NULL, "INSERT INTO admin_sessions "
	    "(token_hash, user_id, csrf_token, expires_at, remote_addr) "
	    "VALUES (?, ?, ?, NOW(3) + INTERVAL ? SECOND, ?)", "sssis",
	    a->hash, a->s->user_id, a->s->csrf,
	    (int64_t)ctx->cfg->session_ttl_s, a->addr);
	if (rc == TLY_OK)
		rc = tly_audit(ctx, a->actor, "admin.login", a->s->user_id,
		    a->addr, err);
	return rc;
}

/* new_session - a session for 's->user_id', opened by 'actor' from 'addr' */
static int
new_session(tly_ctx *ctx, const tly_principal *actor, const char *addr,
    tly_session *s, tly_err *err)
{
	session_args a;
	char hash[65];

	if (tly_random_token(s->token, 33) != TLY_OK ||
	    tly_random_token(s->csrf, 33) != TLY_OK)
		return tly_err_internal(err);
	tly_sha256_hex(hash, s->token, strlen(s->token));
	memset(&a, 0, sizeof(a));
	a.actor = actor;
	a.hash = hash;
	a.addr = addr;
	a.s = s;
	s->expires_at = tly_now_s() + ctx->cfg->session_ttl_s;
	return session_tx_run(ctx, "admin.login", &a, err);
}

/*
 * tly_admin_login - check 'username' / 'pw' for client 'addr'; on success
 * a new session in 's'.  401 for any wrong credential, 429 when throttled.
 */
int
tly_admin_login(tly_ctx *ctx, const char *username, const char *pw,
    const char *addr, tly_session *s, tly_err *err)
{
	char ukey[128], ikey[128], hash[TLY_KDF_HASH_MAX], role[16];
	char uname[72];
	tly_principal actor;
	throttle_args t;
	int64_t disabled = 0;
	int rc = TLY_NOTFOUND, ok;

	memset(s, 0, sizeof(*s));
	throttle_key(ukey, sizeof(ukey), username);
	snprintf(ikey, sizeof(ikey), "ip:%.100s", addr ? addr : "-");
	memset(&t, 0, sizeof(t));
	t.ukey = ukey;
	t.ikey = ikey;
	rc = throttle_tx_run(ctx, "admin.login_throttle", &t, err);
	if (rc)
		return rc;
	/* only an exact username: "admin " or "Admin" is nobody */
	rc = TLY_NOTFOUND;
	if (username_ok(username))
		rc = tly_db_row(ctx->db, err, "SELECT id, username, "
		    "password_hash, role, disabled FROM admin_users WHERE "
		    "username = ?", "s>ssssi", username, s->user_id,
		    sizeof(s->user_id), uname, sizeof(uname), hash,
		    sizeof(hash), role, sizeof(role), &disabled);
	if (rc == TLY_OK && strcmp(uname, username) != 0)
		rc = TLY_NOTFOUND;
	if (rc && rc != TLY_NOTFOUND)
		return rc;
	if (rc == TLY_NOTFOUND) {
		/* same cost as a real check: no timing oracle for usernames */
		(void)tly_kdf_hash(pw, ctx->cfg->kdf_log2_n, hash,
		    sizeof(hash));
		ok = 0;
	} else
		ok = tly_kdf_verify(pw, hash) && !disabled;
	if (!ok) {
		tly_logkv(ctx->log, TLY_LOG_INFO, "auth", "admin login failed",
		    "username", username, "remote_addr", addr, NULL);
		tly_err_clear(err);
		return unauthenticated(err);
	}
	throttle_forgive(ctx, ukey, ikey);
	memset(&actor, 0, sizeof(actor));
	actor.kind = TLY_PK_ADMIN;
	tly_strlcpy(actor.id, s->user_id, sizeof(actor.id));
	tly_strlcpy(actor.name, username, sizeof(actor.name));
	rc = new_session(ctx, &actor, addr, s, err);
	if (rc)
		return rc;
	tly_strlcpy(s->username, username, sizeof(s->username));
	s->role = tly_role_parse(role);
	return TLY_OK;
}

/*
 * tly_auth_admin - session token 'token' (from the cookie) into 'p'.
 * Expired, idle or disabled sessions are deleted and refused.
 */
int
tly_auth_admin(tly_ctx *ctx, const char *token, tly_principal *p,
    tly_err *err)
{
	char hash[65], uid[40], uname[72], role[16], csrf[64];
	int64_t disabled = 0, live = 0, idle = 0;
	int rc;

	if (strlen(token) != 32)
		return unauthenticated(err);
	tly_sha256_hex(hash, token, strlen(token));
	rc = tly_db_row(ctx->db, err, "SELECT s.user_id, u.username, u.role, "
	    "u.disabled, s.csrf_token, s.expires_at > NOW(3), "
	    "TIMESTAMPDIFF(SECOND, s.last_seen_at, NOW(3)) "
	    "FROM admin_sessions s JOIN admin_users u ON u.id = s.user_id "
	    "WHERE s.token_hash = ?", "s>sssisii", hash, uid, sizeof(uid),
	    uname, sizeof(uname), role, sizeof(role), &disabled, csrf,
	    sizeof(csrf), &live, &idle);
	if (rc == TLY_NOTFOUND)
		return unauthenticated(err);
	if (rc)
		return rc;
	if (!live || disabled || idle > ctx->cfg->session_idle_s) {
		(void)tly_db_exec(ctx->db, err, NULL, "DELETE FROM "
		    "admin_sessions WHERE token_hash = ?", "s", hash);
		tly_err_clear(err);
		return unauthenticated(err);
	}
	if (idle >= 60)
		(void)tly_db_exec(ctx->db, err, NULL, "UPDATE admin_sessions "
		    "SET last_seen_at = NOW(3) WHERE token_hash = ?", "s",
		    hash);
	tly_err_clear(err);
	memset(p, 0, sizeof(*p));
	p->kind = TLY_PK_ADMIN;
	p->role = tly_role_parse(role);
	tly_strlcpy(p->id, uid, sizeof(p->id));
	tly_strlcpy(p->name, uname, sizeof(p->name));
	tly_strlcpy(p->csrf, csrf, sizeof(p->csrf));
	return TLY_OK;
}

TLY_TX_TYPED(logout_tx, session_args)
static int
logout_tx(tly_ctx *ctx, session_args *a, tly_err *err)
{
	uint64_t n = 0;
	int rc;

	rc = tly_db_exec(ctx->db, err, &n, "DELETE FROM admin_sessions WHERE "
	    "token_hash = ?", "s", a->hash);
	if (rc == TLY_OK && n == 1)
		rc = tly_audit(ctx, a->actor, "admin.logout", a->actor ?
		    a->actor->id : NULL, NULL, err);
	return rc;
}

/* tly_admin_logout - 'actor' ends its session 'token' (again is fine) */
int
tly_admin_logout(tly_ctx *ctx, const tly_principal *actor, const char *token,
    tly_err *err)
{
	session_args a;
	char hash[65];

	tly_sha256_hex(hash, token, strlen(token));
	memset(&a, 0, sizeof(a));
	a.actor = actor;
	a.hash = hash;
	return logout_tx_run(ctx, "admin.logout", &a, err);
}

/*
 * auth.c - principals, API keys, admin users and sessions, the audit log
 *
 * Owns the tables api_keys, admin_users, admin_sessions, login_throttle,
 * buyer_identities (and the buyer rows of accounts), audit_log.
 *
 * Secrets are never stored or logged: API keys and session tokens are
 * kept as SHA-256 (they carry 190 random bits, so a fast hash suffices),
 * passwords as scrypt (tly_kdf.h).  Login failures are counted per user
 * and per client address in login_throttle; past the limit a login is
 * refused with 429 before the password is even checked, and a login for
 * an unknown user costs the same scrypt as a real one, so neither timing
 * nor the answer tells whether a username exists.
 *
 * Buyer accounts are created on first use by a plain INSERT that treats a
 * duplicate key as "someone else created it first" (docs/architecture.md,
 * "The database": never a locking read of a row that does not exist yet).
 *
 * API:	tly_auth_buyer(), tly_auth_server(), tly_auth_admin(),
 *	tly_apikey_create(), tly_apikey_revoke(), tly_admin_create(),
 *	tly_admin_set_password(), tly_admin_login(), tly_admin_logout(),
 *	tly_admin_sessions_revoke(),
 *	tly_audit(), tly_role_name(), tly_role_parse().
 */
#include <stdio.h>
#include <string.h>

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

/*
 * tly_apikey_create - a new key named 'name'; the key itself is written
 * to 'key' (shown once, never stored) and its id to 'id'.
 */
int
tly_apikey_create(tly_ctx *ctx, const char *name, const char *by, char *key,
    size_t keysz, char *id, size_t idsz, tly_err *err)
{
	char secret[33], hash[65], prefix[16];

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
	return tly_db_exec(ctx->db, err, NULL,
	    "INSERT INTO api_keys (id, name, prefix, key_hash, created_by) "
	    "VALUES (?, ?, ?, ?, ?)", "sssss", id, name, prefix, hash, by);
}

/* tly_apikey_revoke - revoke key 'id' (again is fine); 404 if unknown */
int
tly_apikey_revoke(tly_ctx *ctx, const char *id, const char *by, tly_err *err)
{
	uint64_t n = 0;
	char found[40];
	int rc;

	(void)by;
	rc = tly_db_exec(ctx->db, err, &n, "UPDATE api_keys SET revoked_at = "
	    "NOW(3) WHERE id = ? AND revoked_at IS NULL", "s", id);
	if (rc || n)
		return rc;
	rc = tly_db_row(ctx->db, err, "SELECT id FROM api_keys WHERE id = ?",
	    "s>s", id, found, sizeof(found));
	if (rc == TLY_NOTFOUND)
		return tly_err_param(err, TLY_EK_NOT_FOUND, "resource_missing",
		    "id", "No such API key: '%.40s'.", id);
	return rc;
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

/*
 * tly_admin_create - a new admin user; its id goes to 'id'.  409 when the
 * username exists, 422 for a weak password or unknown role.
 */
int
tly_admin_create(tly_ctx *ctx, const char *username, const char *pw,
    int role, const char *by, char *id, size_t idsz, tly_err *err)
{
	char hash[TLY_KDF_HASH_MAX];
	int rc;

	(void)by;
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
	if (tly_kdf_hash(pw, ctx->cfg->kdf_log2_n, hash, sizeof(hash)) !=
	    TLY_OK || tly_id_new(id, idsz, "adm") != TLY_OK)
		return tly_err_internal(err);
	rc = tly_db_exec(ctx->db, err, NULL, "INSERT INTO admin_users "
	    "(id, username, password_hash, role) VALUES (?, ?, ?, ?)", "ssss",
	    id, username, hash, tly_role_name(role));
	if (rc == TLY_CONFLICT)
		return tly_err_param(err, TLY_EK_CONFLICT, "username_taken",
		    "username", "That username is taken.");
	return rc;
}

/* tly_admin_set_password - new password for 'username'; ends its sessions */
int
tly_admin_set_password(tly_ctx *ctx, const char *username, const char *pw,
    tly_err *err)
{
	char hash[TLY_KDF_HASH_MAX], id[40];
	int rc;

	rc = password_ok(pw, err);
	if (rc)
		return rc;
	rc = tly_db_row(ctx->db, err, "SELECT id FROM admin_users WHERE "
	    "username = ?", "s>s", username, id, sizeof(id));
	if (rc == TLY_NOTFOUND)
		return tly_err_param(err, TLY_EK_NOT_FOUND, "resource_missing",
		    "username", "No such admin user.");
	if (rc)
		return rc;
	if (tly_kdf_hash(pw, ctx->cfg->kdf_log2_n, hash, sizeof(hash)) !=
	    TLY_OK)
		return tly_err_internal(err);
	rc = tly_db_exec(ctx->db, err, NULL, "UPDATE admin_users SET "
	    "password_hash = ? WHERE id = ?", "ss", hash, id);
	if (rc == TLY_OK)
		rc = tly_db_exec(ctx->db, err, NULL, "DELETE FROM "
		    "admin_sessions WHERE user_id = ?", "s", id);
	return rc;
}

/* throttled - 429 when 'ukey' or 'ikey' has too many recent failures */
static int
throttled(tly_ctx *ctx, const char *ukey, const char *ikey, tly_err *err)
{
	const tly_config *c = ctx->cfg;
	tly_q q;
	int rc, limit, retry = 0;
	int64_t failures, age;

	if (tly_q_prep(ctx->db, &q, "SELECT k, failures, TIMESTAMPDIFF("
	    "SECOND, window_start, NOW(3)) FROM login_throttle WHERE k IN "
	    "(?, ?)", err))
		return q.rc;
	tly_q_str(&q, ukey);
	tly_q_str(&q, ikey);
	(void)tly_q_exec(&q);		/* failures stick to q */
	while ((rc = tly_q_next(&q)) == TLY_ROW) {
		failures = tly_q_col_i64(&q, 1);
		age = tly_q_col_i64(&q, 2);
		limit = strcmp(tly_q_col_str(&q, 0), ukey) == 0 ?
		    c->login_max_failures : c->login_max_failures * 4;
		if (failures >= limit && age < c->login_window_s &&
		    c->login_window_s - age > retry)
			retry = (int)(c->login_window_s - age);
	}
	tly_q_done(&q);
	if (rc)
		return rc;
	if (retry > 0) {
		tly_err_set(err, TLY_EK_RATE, "too_many_login_attempts",
		    "Too many failed logins; try again later.");
		err->retry_after = retry;
		return TLY_ERR;
	}
	return TLY_OK;
}

/* count_failure - one more failure for 'k' in the current window */
static void
count_failure(tly_ctx *ctx, const char *k)
{
	tly_err ignored;
	int64_t w = ctx->cfg->login_window_s;

	tly_err_clear(&ignored);
	/* MariaDB evaluates the assignments left to right: failures first,
	 * while window_start still holds the old value */
	(void)tly_db_exec(ctx->db, &ignored, NULL,
	    "INSERT INTO login_throttle (k, window_start, failures) "
	    "VALUES (?, NOW(3), 1) ON DUPLICATE KEY UPDATE "
	    "failures = IF(window_start < NOW(3) - INTERVAL ? SECOND, 1, "
	    "failures + 1), window_start = IF(window_start < NOW(3) - "
	    "INTERVAL ? SECOND, NOW(3), window_start)", "sii", k, w, w);
}

static int
new_session(tly_ctx *ctx, const char *uid, const char *addr, tly_session *s,
    tly_err *err)
{
	char hash[65];
	int rc;

	if (tly_random_token(s->token, 33) != TLY_OK ||
	    tly_random_token(s->csrf, 33) != TLY_OK)
		return tly_err_internal(err);
	tly_sha256_hex(hash, s->token, strlen(s->token));
	rc = tly_db_exec(ctx->db, err, NULL, "INSERT INTO admin_sessions "
	    "(token_hash, user_id, csrf_token, expires_at, remote_addr) "
	    "VALUES (?, ?, ?, NOW(3) + INTERVAL ? SECOND, ?)", "sssis", hash,
	    uid, s->csrf, (int64_t)ctx->cfg->session_ttl_s, addr);
	s->expires_at = tly_now_s() + ctx->cfg->session_ttl_s;
	return rc;
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
	tly_principal actor;
	int64_t disabled = 0;
	int rc, ok;

	memset(s, 0, sizeof(*s));
	snprintf(ukey, sizeof(ukey), "user:%.100s", username);
	snprintf(ikey, sizeof(ikey), "ip:%.100s", addr ? addr : "-");
	rc = throttled(ctx, ukey, ikey, err);
	if (rc)
		return rc;
	rc = tly_db_row(ctx->db, err, "SELECT id, password_hash, role, "
	    "disabled FROM admin_users WHERE username = ?", "s>sssi",
	    username, s->user_id, sizeof(s->user_id), hash, sizeof(hash),
	    role, sizeof(role), &disabled);
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
		count_failure(ctx, ukey);
		count_failure(ctx, ikey);
		tly_logkv(ctx->log, TLY_LOG_INFO, "auth", "admin login failed",
		    "username", username, "remote_addr", addr, NULL);
		tly_err_clear(err);
		return unauthenticated(err);
	}
	(void)tly_db_exec(ctx->db, err, NULL, "DELETE FROM login_throttle "
	    "WHERE k = ?", "s", ukey);
	rc = new_session(ctx, s->user_id, addr, s, err);
	if (rc)
		return rc;
	tly_strlcpy(s->username, username, sizeof(s->username));
	s->role = tly_role_parse(role);
	memset(&actor, 0, sizeof(actor));
	actor.kind = TLY_PK_ADMIN;
	tly_strlcpy(actor.id, s->user_id, sizeof(actor.id));
	(void)tly_audit(ctx, &actor, "admin.login", s->user_id, addr, err);
	tly_err_clear(err);
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

/* tly_admin_logout - end the session of 'token' (unknown is fine) */
int
tly_admin_logout(tly_ctx *ctx, const char *token, tly_err *err)
{
	char hash[65];

	tly_sha256_hex(hash, token, strlen(token));
	return tly_db_exec(ctx->db, err, NULL, "DELETE FROM admin_sessions "
	    "WHERE token_hash = ?", "s", hash);
}

/*
 * tly_admin_sessions_revoke - log out everywhere: end every session of
 * admin user 'user_id', or of every user when it is NULL, except the
 * session of token 'keep' (NULL: none kept); '*n' the sessions ended.
 * 404 for an unknown user.
 */
int
tly_admin_sessions_revoke(tly_ctx *ctx, const char *user_id,
    const char *keep, uint64_t *n, tly_err *err)
{
	char hash[65] = "";
	int64_t one;
	int rc;

	*n = 0;
	if (keep)
		tly_sha256_hex(hash, keep, strlen(keep));
	if (user_id == NULL)
		return tly_db_exec(ctx->db, err, n, "DELETE FROM "
		    "admin_sessions WHERE token_hash <> ?", "s", hash);
	rc = tly_db_row(ctx->db, err, "SELECT 1 FROM admin_users WHERE id = ?",
	    "s>i", user_id, &one);
	if (rc == TLY_NOTFOUND)
		return tly_err_param(err, TLY_EK_NOT_FOUND, "resource_missing",
		    "id", "No such admin user: '%.40s'.", user_id);
	if (rc)
		return rc;
	return tly_db_exec(ctx->db, err, n, "DELETE FROM admin_sessions WHERE "
	    "user_id = ? AND token_hash <> ?", "ss", user_id, hash);
}

/* --- audit --------------------------------------------------------------- */

/*
 * tly_audit - append who ('actor') did 'action' to 'object' with 'detail'
 * (never a secret).  Inside a money transaction, call it in the same
 * transaction as the movement it records.
 */
int
tly_audit(tly_ctx *ctx, const tly_principal *actor, const char *action,
    const char *object, const char *detail, tly_err *err)
{
	return tly_db_later(ctx->db, err, "INSERT INTO audit_log "
	    "(actor_kind, actor_id, action, object_id, detail, request_id) "
	    "VALUES (?, ?, ?, ?, ?, ?)", "ssssss",
	    actor ? tly_principal_kind_name(actor->kind) : "system",
	    actor && actor->id[0] ? actor->id : NULL, action, object, detail,
	    ctx->request_id[0] ? ctx->request_id : NULL);
}

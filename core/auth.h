/*
 * auth.h - who is calling: principals, API keys, admin users and sessions
 *
 * Three kinds of caller (docs/api.md), declared per route at the edge:
 *   buyer   a JWT from the marketplace's auth service (jwt.h); Tally keeps
 *           one buyer account per (issuer, sub), created on first use;
 *   server  an API key "tly_sk_…", stored only as its SHA-256;
 *   admin   a user of the admin panel with a session cookie, a CSRF token
 *           and a role: viewer < support < finance < admin (each role may
 *           do what the ones below it may).
 * Every failure to authenticate is the same opaque 401; the reason goes
 * to the log.  Authorisation (403) is the edge's, from the route table.
 */
#ifndef TLY_AUTH_H
#define TLY_AUTH_H

#include <stdint.h>

#include "ctx.h"
#include "principal.h"

#define TLY_API_KEY_PREFIX	"tly_sk_"
#define TLY_SESSION_COOKIE	"tally_session"

typedef struct tly_session {
	char	 token[48];		/* goes to the cookie, never stored */
	char	 csrf[48];
	int64_t	 expires_at;		/* unix seconds */
	char	 user_id[40];
	char	 username[72];
	int	 role;
} tly_session;

const char	*tly_role_name(int);
int		 tly_role_parse(const char *);

int	 tly_auth_buyer(tly_ctx *, const char *, tly_principal *, tly_err *);
int	 tly_auth_server(tly_ctx *, const char *, tly_principal *, tly_err *);
int	 tly_auth_admin(tly_ctx *, const char *, tly_principal *, tly_err *);

const char	*tly_actor_name(const tly_principal *);

int	 tly_apikey_create(tly_ctx *, const tly_principal *, const char *,
	    char *, size_t, char *, size_t, tly_err *);
int	 tly_apikey_revoke(tly_ctx *, const tly_principal *, const char *,
	    tly_err *);

int	 tly_admin_create(tly_ctx *, const tly_principal *, const char *,
	    const char *, int, char *, size_t, tly_err *);
int	 tly_admin_set_password(tly_ctx *, const tly_principal *,
	    const char *, const char *, tly_err *);
int	 tly_admin_login(tly_ctx *, const char *, const char *, const char *,
	    tly_session *, tly_err *);
int	 tly_admin_logout(tly_ctx *, const tly_principal *, const char *,
	    tly_err *);
int	 tly_admin_sessions_revoke(tly_ctx *, const tly_principal *,
	    const char *, const char *, uint64_t *, tly_err *);
int	 tly_auth_prune_sessions(tly_ctx *, tly_err *);
int	 tly_auth_prune_throttle(tly_ctx *, tly_err *);

#endif

/*
 * config.h - tally.conf, typed
 *
 * The master loads a tly_config once at start and again on SIGHUP; a
 * worker gets its copy by fork.  A config that fails to load is never
 * half-applied: tly_config_load fills a fresh struct and the caller swaps
 * only on success.  Secrets may be given literally, as "env:NAME" (read
 * from the environment) or as "file:/path" (first line of the file).
 */
#ifndef TLY_CONFIG_H
#define TLY_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define TLY_POOL_API		0
#define TLY_POOL_WEBHOOK	1
#define TLY_POOL_ADMIN		2
#define TLY_NPOOLS		3

#define TLY_MAX_ISSUERS		4
#define TLY_MAX_JWT_KEYS	4	/* named RS256 keys per issuer */
#define TLY_MAX_JOBS		16
#define TLY_MAX_WH_SECRETS	2
#define TLY_MAX_CURRENCIES	16

enum { TLY_JWT_HS256 = 1, TLY_JWT_RS256 = 2 };

typedef struct tly_pool_conf {
	char	 name[16];
	char	 socket[256];
	int	 workers;
	int	 max_requests;
	int	 socket_mode;		/* octal permissions of the socket */
	char	 socket_group[64];	/* group of the socket, "" = ours */
	int	 listen_backlog;
} tly_pool_conf;

/* an RS256 key named by the "kid" of the tokens it signs */
typedef struct tly_jwt_key {
	char	 kid[64];
	void	*pubkey;		/* EVP_PKEY * */
} tly_jwt_key;

typedef struct tly_jwt_issuer {
	char	 name[32];		/* [jwt.NAME] */
	char	 iss[256];		/* the token's "iss" */
	char	 aud[256];		/* required in the token's "aud" */
	int	 alg;			/* per issuer, never from the token */
	char	 secret[512];		/* HS256 */
	size_t	 secret_len;
	void	*pubkey;		/* RS256 key of tokens without kid */
	tly_jwt_key keys[TLY_MAX_JWT_KEYS];	/* RS256 by kid (rotation) */
	int	 nkeys;
	char	 email_claim[64];	/* claim holding the buyer's email */
	int	 leeway_s;
	char	 typ[32];		/* required header typ; "" = JWT/none */
	int	 max_lifetime_s;	/* exp - iat at most; 0 = unbounded */
} tly_jwt_issuer;

typedef struct tly_rate_conf {
	int	 per_second;		/* refill rate; 0 = unlimited */
	int	 burst;
} tly_rate_conf;

typedef struct tly_currency {
	char	 code[4];		/* ISO 4217, lowercase */
	int	 exponent;		/* 2 for usd, 0 for jpy, 3 for kwd */
	int64_t	 min_charge_cent;	/* Stripe's minimum charge */
	int64_t	 max_charge_cent;
	int64_t	 amount_step_cent;	/* amounts are multiples (kwd: 10) */
	int64_t	 stripe_fee_bps;	/* Stripe fee estimate */
	int64_t	 stripe_fee_fixed_cent;
	int64_t	 platform_fee_cent;	/* default fixed platform fee */
	int64_t	 payout_threshold_cent;
	int64_t	 refund_support_limit_cent;	/* per payment, role support */
	int64_t	 refund_support_daily_cent;	/* per support admin and day */
} tly_currency;

typedef struct tly_job_conf {
	char	 name[32];
	int	 interval_s;
} tly_job_conf;

typedef struct tly_config {
	char		 path[256];

	/* [tally] */
	int		 log_level;
	char		 log_file[256];		/* "" = stderr */
	char		 pid_file[256];
	char		 schema_dir[256];
	size_t		 max_body_bytes;
	int		 request_timeout_s;	/* worker watchdog */
	int		 shutdown_timeout_s;	/* SIGTERM grace */
	char		 public_url[256];	/* base of links in emails */
	char		 shop_origins[512];	/* may postMessage a token */
	char		 env_file[256];		/* env:NAME from it, or "" */
	int		 literal_secrets;	/* a secret written as is */

	/* [db] */
	char		 db_host[128];
	int		 db_port;
	char		 db_socket[256];
	char		 db_user[64];
	char		 db_password[256];
	char		 db_name[64];
	char		 db_migrate_user[64];	/* '': migrate as db_user */
	char		 db_user_host[64];	/* db_user's host part */
	int		 db_connect_timeout_s;
	int		 db_rw_timeout_s;
	int		 tx_max_attempts;

	/* [api] [webhook] [admin] */
	tly_pool_conf	 pools[TLY_NPOOLS];

	/* [jwt.NAME] */
	tly_jwt_issuer	 issuers[TLY_MAX_ISSUERS];
	int		 n_issuers;

	/* [admin_auth] */
	int		 session_ttl_s;
	int		 session_idle_s;
	int		 cookie_secure;
	int		 login_max_failures;
	int		 login_window_s;
	int		 login_max_delay_s;	/* cap of the per-user delay */
	int		 kdf_log2_n;		/* scrypt N = 2^kdf_log2_n */

	/* [ratelimit] */
	tly_rate_conf	 rate_buyer;
	tly_rate_conf	 rate_server;
	tly_rate_conf	 rate_admin;

	/* [stripe] */
	char		 stripe_api_base[256];
	char		 stripe_secret_key[256];
	char		 stripe_publishable_key[256];
	char		 stripe_webhook_secrets[TLY_MAX_WH_SECRETS][128];
	char		 stripe_connect_webhook_secrets
			    [TLY_MAX_WH_SECRETS][128];
	int		 stripe_connect_timeout_ms;
	int		 stripe_timeout_ms;
	int		 stripe_max_retries;
	int		 stripe_retry_base_ms;
	int		 stripe_webhook_tolerance_s;
	int		 stripe_webhook_refusals_days;	/* kept after last */

	/* [pricing] */
	int64_t		 host_partner_bps;	/* defaults, of platform fee */
	int64_t		 ambassador_bps;
	int		 platform_bears_stripe_fee;
	int		 platform_bears_dispute_fee;
	int		 reservation_s;

	/* [payouts] */
	int		 payout_hold_days;	/* positive rows wait */
	int		 payout_retry_base_s;	/* backoff after a refusal */
	int		 payout_lease_s;	/* a run owns a payout */
	int		 payout_max_per_run;	/* payees per run */
	int		 payout_reverse_transfers;	/* recover owed back */
	char		 connect_country[4];	/* new Express accounts */
	char		 connect_return_url[256];	/* onboarding links */
	char		 connect_refresh_url[256];

	/* [currency.CODE] */
	tly_currency	 currencies[TLY_MAX_CURRENCIES];
	int		 n_currencies;
	int		 currencies_defaulted;	/* usd only, none configured */

	/* [job.NAME] */
	tly_job_conf	 jobs[TLY_MAX_JOBS];
	int		 n_jobs;

	/* [smtp]: the outbox's sender (core/outbox.c) */
	char		 smtp_url[256];		/* "" = no sender */
	char		 smtp_from[254];
	char		 smtp_username[128];
	char		 smtp_password[256];
	int		 smtp_use_ssl;		/* TLY_SMTP_SSL_* */
	char		 smtp_ca_file[256];
	char		 smtp_ca_path[256];
	int		 smtp_connect_timeout_ms;
	int		 smtp_timeout_ms;
	int		 smtp_batch;		/* rows claimed at once */
	int		 smtp_lease_s;		/* a claim's lifetime */
	int		 smtp_max_attempts;
	int		 smtp_retry_base_s;
	int		 smtp_retry_max_s;

	/* operations (docs/operations.md) */
	int		 audit_horizon_s;	/* [audit] chain_horizon */
	int		 reports_horizon_s;	/* [job.reports] horizon */
	char		 alerts_email[254];	/* [alerts] email, "" = none */
	int		 alert_refusals;	/* a burst: refusals per */
	int		 alert_refusal_window_s;	/* address and window */
	char		 metrics_token[128];	/* [metrics] token, "" = none */
} tly_config;

enum { TLY_SMTP_SSL_NONE = 0, TLY_SMTP_SSL_TRY, TLY_SMTP_SSL_ALL };

int	 tly_config_load(tly_config *, const char *, char *, size_t);
int	 tly_config_load_env(tly_config *, const char *, const char *, char *,
	    size_t);
int	 tly_env_file_load(const char *, char *, size_t);
void	 tly_config_defaults(tly_config *);
void	 tly_config_free(tly_config *);
const tly_jwt_issuer *tly_config_issuer(const tly_config *, const char *);
const tly_currency *tly_config_currency(const tly_config *, const char *);
int	 tly_currency_exponent(const char *);
const char *tly_pool_name(int);

#endif

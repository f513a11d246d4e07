/*
 * routes.h - the handlers behind the route table (routes.c)
 *
 * One file per area: routes_health.c (health, who am I), routes_admin.c
 * (admin sessions, users, API keys, audit).  Handlers parse and render;
 * every decision and every SQL statement is in core/.
 */
#ifndef TLY_ROUTES_H
#define TLY_ROUTES_H

#include "admin.h"
#include "catalog.h"
#include "http.h"

int	 tly_h_health(tly_req *);
int	 tly_h_health_live(tly_req *);
int	 tly_h_me(tly_req *);

int	 tly_h_admin_login(tly_req *);
int	 tly_h_admin_logout(tly_req *);
int	 tly_h_admin_me(tly_req *);
int	 tly_h_admin_users_list(tly_req *);
int	 tly_h_admin_users_create(tly_req *);
int	 tly_h_admin_keys_list(tly_req *);
int	 tly_h_admin_keys_create(tly_req *);
int	 tly_h_admin_keys_revoke(tly_req *);
int	 tly_h_admin_audit_list(tly_req *);
int	 tly_h_admin_reconciliation_list(tly_req *);
int	 tly_h_admin_reconciliation_lines(tly_req *);
int	 tly_h_admin_reconciliation_ack(tly_req *);
int	 tly_h_metrics(tly_req *);

int	 tly_h_accounts_create(tly_req *);
int	 tly_h_accounts_get(tly_req *);
int	 tly_h_accounts_list(tly_req *);
int	 tly_h_ambassador_set(tly_req *);
int	 tly_h_host_partner_create(tly_req *);
int	 tly_h_products_create(tly_req *);
int	 tly_h_products_update(tly_req *);
int	 tly_h_products_get(tly_req *);
int	 tly_h_products_list(tly_req *);
int	 tly_h_checkout_create(tly_req *);
int	 tly_h_checkout_get(tly_req *);
int	 tly_h_checkout_config(tly_req *);
int	 tly_h_payments_complete(tly_req *);
int	 tly_h_payments_get(tly_req *);
int	 tly_h_webhook_platform(tly_req *);
int	 tly_h_webhook_connect(tly_req *);
int	 tly_h_admin_refunds_create(tly_req *);
int	 tly_h_admin_refunds_list(tly_req *);
int	 tly_h_connect(tly_req *);
int	 tly_h_balance(tly_req *);
int	 tly_h_payouts_list(tly_req *);
int	 tly_h_admin_advances_create(tly_req *);
int	 tly_h_admin_advances_list(tly_req *);
int	 tly_h_admin_payments_list(tly_req *);
int	 tly_h_admin_payment_get(tly_req *);
int	 tly_h_admin_accounts_list(tly_req *);
int	 tly_h_admin_account_get(tly_req *);
int	 tly_h_admin_payouts_list(tly_req *);
int	 tly_h_admin_payout_retry(tly_req *);
int	 tly_h_admin_payouts_deferred(tly_req *);
int	 tly_h_admin_events_list(tly_req *);
int	 tly_h_admin_event_get(tly_req *);
int	 tly_h_admin_event_replay(tly_req *);
int	 tly_h_admin_refusals_list(tly_req *);
int	 tly_h_admin_emails_list(tly_req *);
int	 tly_h_admin_email_retry(tly_req *);
int	 tly_h_admin_report_daily(tly_req *);
int	 tly_h_admin_report_top(tly_req *);
int	 tly_h_admin_report_currencies(tly_req *);
int	 tly_h_admin_user_sessions_revoke(tly_req *);
int	 tly_h_admin_sessions_revoke(tly_req *);
int	 tly_h_admin_onboarding_link(tly_req *);
int	 tly_h_admin_threshold_set(tly_req *);
void	 tly_render_account(tly_jw *, const tly_account *);
void	 tly_render_product(tly_jw *, const tly_product *);
struct tly_balance;
void	 tly_render_balances(tly_jw *, const struct tly_balance *, int);

/* shared by list handlers (routes.c, tly_list_or_reply) */
typedef int (*tly_list_fetch)(tly_req *, const tly_page *, void *, int *,
    int *, tly_err *);
typedef void (*tly_list_row)(tly_jw *, const void *, int);

int	 tly_page_or_reply(tly_req *, tly_page *);
int	 tly_list_or_reply(tly_req *, const char *, tly_list_fetch,
	    tly_list_row, void *);
void	 tly_list_begin(tly_jw *, const char *);
void	 tly_list_end(tly_jw *, int);
int	 tly_core_err_or_reply(tly_req *, int, tly_err *);

#endif

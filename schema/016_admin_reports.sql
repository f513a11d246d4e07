-- 016_admin_reports.sql - indexes for the admin panel's lists and its
-- dashboard (core/report.c): every list and every daily aggregate reads
-- an index range, never the whole table.
--
-- payments: the dashboard's days by currency and time (covering the
-- amount), a status filter in id order; the search by a buyer's email
-- (accounts.email, checkouts.receipt_email); shares: the platform's
-- revenue, Stripe's fees and the top payees per currency and time
-- (covering); refunds, disputes and paid payouts per currency and time;
-- webhook events in the order they were received.

ALTER TABLE payments
  ADD KEY IF NOT EXISTS payments_report (currency, created_at, amount_cent),
  ADD KEY IF NOT EXISTS payments_status (status, id);

ALTER TABLE accounts
  ADD KEY IF NOT EXISTS accounts_email (email);

ALTER TABLE checkouts
  ADD KEY IF NOT EXISTS checkouts_receipt_email (receipt_email);

ALTER TABLE shares
  ADD KEY IF NOT EXISTS shares_report (currency, created_at, account_id,
    role, amount_cent);

ALTER TABLE refunds
  ADD KEY IF NOT EXISTS refunds_report (currency, created_at);

ALTER TABLE disputes
  ADD KEY IF NOT EXISTS disputes_report (currency, created_at);

ALTER TABLE payouts
  ADD KEY IF NOT EXISTS payouts_report (state, currency, paid_at);

ALTER TABLE webhook_events
  ADD KEY IF NOT EXISTS webhook_events_received (received_at, id);

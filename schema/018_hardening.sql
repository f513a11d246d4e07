-- 018_hardening.sql - what the doors of issue 14 (a security review)
-- need in the schema.
--
-- login_throttle.last_at: the time of a user's last failed login.  A
-- user's failures no longer lock it out for a window: from the
-- login_max_failures-th on, each brings a delay after the last one
-- (core/auth.c), so the last failure's time is kept.  Rows of addresses
-- leave it NULL.
--
-- refunds (requested_by, created_at): the daily total of a support
-- admin's refunds (refund_support_daily_cent) is summed per admin over
-- the last day, under the payment's lock, on every support refund.

ALTER TABLE login_throttle
  ADD COLUMN IF NOT EXISTS last_at DATETIME(3) NULL AFTER failures;

ALTER TABLE refunds
  ADD KEY IF NOT EXISTS refunds_requested_by (requested_by, created_at);
